# docker/docker.sh -- sourced: Docker and Compose made ready on this machine.
#
#   . docker/docker.sh
#   haul_docker_ready || { echo "$HAUL_DOCKER_WHY"; exit 1; }
#   "${HAUL_COMPOSE[@]}" up
#
# haul_docker_ready: as root, installs Debian's docker.io and docker-compose
# when docker or a Compose is missing (tests/lib/deps.sh), starts dockerd when
# no daemon answers (logging to HAUL_DOCKERD_LOG, default
# /var/log/haul-dockerd.log; it is left running), and makes the
# debian:bookworm-slim base image with debootstrap when it is missing
# (docker/base-image.sh: there is no image registry here). Then sets
# HAUL_COMPOSE to the Compose there is: `docker compose` (Docker's plugin)
# when it answers, else `docker-compose` (Debian's 1.29). Returns 1 with a
# sentence in HAUL_DOCKER_WHY when something cannot be done. Progress goes to
# stderr. Used by `make up` (docker/up.sh) and tests/integration/test_compose.sh.

HAUL_DOCKERD_LOG=${HAUL_DOCKERD_LOG:-/var/log/haul-dockerd.log}

_haul_have_compose() { docker compose version >/dev/null 2>&1 || command -v docker-compose >/dev/null 2>&1; }

haul_docker_ready() {
    local top
    top=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
    HAUL_DOCKER_WHY=
    if ! command -v docker >/dev/null 2>&1 || ! _haul_have_compose ||
        { ! docker info >/dev/null 2>&1 && ! command -v dockerd >/dev/null 2>&1; }; then
        if [ "$(id -u)" -ne 0 ]; then
            HAUL_DOCKER_WHY="docker or docker-compose is missing and installing them needs root"
            return 1
        fi
        "$top/tests/lib/deps.sh" docker.io docker-compose >&2 || {
            HAUL_DOCKER_WHY="installing docker.io and docker-compose failed"
            return 1
        }
    fi
    if ! docker info >/dev/null 2>&1; then
        if [ "$(id -u)" -ne 0 ]; then
            HAUL_DOCKER_WHY="no Docker daemon answers, and starting one needs root"
            return 1
        fi
        echo "  no Docker daemon answers: starting dockerd (log: $HAUL_DOCKERD_LOG; it is left running)" >&2
        setsid dockerd >>"$HAUL_DOCKERD_LOG" 2>&1 </dev/null &
        local _i
        for _i in $(seq 120); do
            docker info >/dev/null 2>&1 && break
            sleep 0.5
        done
        if ! docker info >/dev/null 2>&1; then
            tail -n 15 "$HAUL_DOCKERD_LOG" 2>/dev/null | sed 's/^/  | /' >&2
            HAUL_DOCKER_WHY="dockerd did not start within 60 s (log: $HAUL_DOCKERD_LOG)"
            return 1
        fi
    fi
    if docker compose version >/dev/null 2>&1; then
        HAUL_COMPOSE=(docker compose)
    else
        HAUL_COMPOSE=(docker-compose)
    fi
    if ! "$top/docker/base-image.sh" debian:bookworm-slim >&2; then
        HAUL_DOCKER_WHY="the base image debian:bookworm-slim could not be made (docker/base-image.sh)"
        return 1
    fi
    return 0
}
