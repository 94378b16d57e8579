"""Deploy a hybrid AWS application (ECS services, scheduled tasks, Lambda functions) from CI."""

__version__ = "0.1.0"
