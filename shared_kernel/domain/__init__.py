"""The pure core: payments, cards, money and their rules. Imports only the standard library."""
