"""The database: the tables (`models`), the engine and migrations (`db`, with `engine/migrations`),
the batch's reads and bulk writes (`store`, `bulk`). Imports only the foundation and `workflows`."""
