# The example Python function. Offline, FROM the local base image that
# scripts/base-images builds from Debian packages; on a connected machine
#   docker build --build-arg BASE=python:3.12-slim -f function/hello-image.dockerfile function
# works as well. scripts/example-image builds minilambda-hello-python:latest.
ARG BASE=minilambda-base-python:latest
FROM ${BASE}
# The platform runs functions with a read-only root file system: never try
# to write .pyc files; unbuffered so stderr logs are not lost on a crash.
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1
# hello.py imports minilambda_loop from its own directory, which serves it
# cold and, with MINILAMBDA_LOOP=1 ("reuse": "process"), call after call.
COPY minilambda_loop.py hello.py /
CMD ["python3", "/hello.py"]
