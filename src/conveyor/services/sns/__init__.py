"""Amazon SNS: topics, subscriptions, filtered and signed fan-out into SQS, HTTP and functions."""
