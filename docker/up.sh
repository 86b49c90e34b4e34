#!/usr/bin/env bash
# docker/up.sh [COMPOSE-UP-ARGS...] -- `make up`: the main job with Docker,
# on a fresh Debian machine as well as on one with Docker's own packages.
#
# Makes Docker ready (docker/docker.sh: as root, installs Debian's docker.io
# and docker-compose when they are missing, starts dockerd when none answers,
# makes the debian:bookworm-slim base image with debootstrap when it is
# missing), then runs `docker compose up` -- or `docker-compose up` where only
# Debian's Compose 1.29 is there -- with the arguments given: the compose
# stack's Redis, demo store, workers and the notebook's job; without
# arguments `up --build --exit-code-from scheduler` (everything stops when the
# job ends, with its exit status), else `up` with the arguments given:
# `docker/up.sh --scale worker=4`, `make up UP_ARGS="--scale worker=4"`.
set -u
cd "$(dirname "$0")/.." || exit 1
. docker/docker.sh
if ! haul_docker_ready; then
    echo "make up: $HAUL_DOCKER_WHY" >&2
    echo "make up: without Docker, \`make demo\` runs the same job on this machine" >&2
    exit 1
fi
[ $# -eq 0 ] && set -- --build --exit-code-from scheduler
echo "make up: ${HAUL_COMPOSE[*]} up $*" >&2
exec "${HAUL_COMPOSE[@]}" up "$@"
