"""kscli: a local-first ledger for software subscriptions and license keys."""

__version__ = "0.1.0"
