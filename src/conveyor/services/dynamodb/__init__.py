"""DynamoDB: tables, items, expressions, indexes, transactions, streams and TTL."""
