"""Cache invalidation from the table's DynamoDB stream: changes made outside the API (a
migration, the console, another service) drop the cache entries they make stale, as the API's
own writes do. `consumer` reads the stream; `changetags` maps each change to tags."""
