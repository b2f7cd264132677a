"""DynamoDB adapters (PynamoDB): the payments repository and the merchant directory."""
