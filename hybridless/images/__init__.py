"""Images: build them, push them to ECR under this deploy's tag, and clean up after success."""
