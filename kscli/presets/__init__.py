"""Data files shipped with kscli: statement presets."""
