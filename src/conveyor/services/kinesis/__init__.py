"""Kinesis Data Streams: streams of shards over SQLite, records in per-shard order, resharding by lineage."""
