"""The tamper-evident access log: Merkle maths, signed tree heads, PostgreSQL store, offline verifier."""
