"""Integration tests: the AWS and HTTP adapters against real protocols (moto server, HTTP)."""
