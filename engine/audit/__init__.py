"""The audit log's proof: the hash chains and their verification (`chain`), signed checkpoints
anchored outside the database (`checkpoints`), replay of a denial from its log (`replay`).
Imports the foundation, `engine.storage`, `engine.intake` and `workflows`."""
