"""The pure core of kscli: plain data and functions over it.

Nothing in this package reads the clock, the file system or the terminal; every
function that depends on time takes ``now`` as a parameter.
"""
