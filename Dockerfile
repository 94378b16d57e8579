# The hybridless image: the GitHub Action (`uses:`), a `docker run` tool and a GitLab CI job image.
#
# Two stages: the first installs the package into a virtualenv; the second holds only the Python
# runtime and that virtualenv, so no compiler, pip, setuptools or package lists ship in the image.
ARG BASE_IMAGE=debian:bookworm-slim

FROM ${BASE_IMAGE} AS build
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 python3-venv ca-certificates \
 && rm -rf /var/lib/apt/lists/*
# The dependencies get a layer of their own, before any source is copied: it is reused until this
# list changes. `pip check` below fails the build if it falls behind pyproject.toml.
RUN python3 -m venv /opt/hybridless \
 && /opt/hybridless/bin/pip install --no-cache-dir \
      "setuptools>=77" "boto3>=1.34,<2" "docker>=7.1,<8" "PyYAML>=6.0,<7" "jinja2>=3.1,<4" \
      "actions-toolkit>=0.1.15,<0.2" "cfn-lint>=1.20,<2" "wcmatch>=10,<13"
COPY pyproject.toml README.md /src/
COPY hybridless /src/hybridless
# Bytecode stays in the image: compiling cfn-lint and boto3 at every start would cost seconds.
RUN /opt/hybridless/bin/pip install --no-cache-dir --no-deps --no-build-isolation /src \
 && /opt/hybridless/bin/pip check \
 && /opt/hybridless/bin/pip uninstall --yes --quiet pip setuptools

FROM ${BASE_IMAGE}
RUN apt-get update \
 && apt-get install -y --no-install-recommends python3 ca-certificates \
 && rm -rf /var/lib/apt/lists/* \
 && useradd --system --uid 10001 --user-group --create-home hybridless
# No USER line: GitHub runs container actions as root and mounts their files for root. The entry
# point switches to `hybridless` itself whenever the Docker socket and the workspace allow it.
COPY --from=build /opt/hybridless /opt/hybridless
COPY entrypoint.py /opt/hybridless/entrypoint.py
ENV PATH=/opt/hybridless/bin:$PATH \
    PYTHONUNBUFFERED=1 \
    PYTHONDONTWRITEBYTECODE=1
ENTRYPOINT ["/opt/hybridless/bin/python", "/opt/hybridless/entrypoint.py"]
