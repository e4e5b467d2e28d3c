"""X12 835 (health care claim payment/advice): a strict streaming tokenizer and loop reader."""
