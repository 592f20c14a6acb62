"""PartiQL for DynamoDB: statements read (syntax) and translated into the item operations (plans)."""
