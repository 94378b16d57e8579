"""The stack: package the template to S3, validate it, and bring the stack to it."""
