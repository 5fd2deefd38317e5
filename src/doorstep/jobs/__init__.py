"""Work as tasks: a Celery app configured from settings, and the tasks the workers run.

Tasks receive ids and dates only, never ORM objects, and are idempotent: a task
delivered twice (a worker lost after the work, before the acknowledgement) does its
work once. With no broker configured the same task functions run in-process.
"""
