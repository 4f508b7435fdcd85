"""The verifiable audit log (SPEC section 8): the write-path hook, signing, checkpoints, proofs."""
