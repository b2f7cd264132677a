"""Unit tests: the domain and the use cases, with in-memory fakes for every port."""
