// ringcast browser client (see docs/PROTOCOL.md).
