-- Issue 19 #1: link state is bound to the certificate the peer last connected with. A stream
-- authenticated by another serial for the same code starts from a void state (repaired by digests).
ALTER TABLE links ADD COLUMN peer_serial TEXT;
