"""A newcomer's example: a user-written torch block, its Keras port, and a broken port."""
