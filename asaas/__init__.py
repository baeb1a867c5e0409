"""asaas: batch sentiment scoring of customer reviews, with every prediction kept in SQL."""

__version__ = "0.1.0"
