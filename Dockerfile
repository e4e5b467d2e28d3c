# The denialflow image: one image, one entry point; the compose services pick the command.
FROM python:3.11-slim

ENV PYTHONDONTWRITEBYTECODE=1 PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1
WORKDIR /app
COPY pyproject.toml README.md ./
COPY engine ./engine
COPY workflows ./workflows
COPY consumers ./consumers
RUN pip install . && useradd --system --uid 10001 denialflow \
    && install -d -o denialflow /var/lib/denialflow/quarantine
USER denialflow
ENTRYPOINT ["denialflow"]
CMD ["--help"]
