FROM python:3.11-slim

WORKDIR /srv
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install .
COPY alembic.ini ./
COPY migrations ./migrations

RUN useradd --system --no-create-home kaltim
USER kaltim
EXPOSE 8000
HEALTHCHECK --interval=10s --timeout=3s --retries=5 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health')"

# Migrate and load the reference data (both idempotent) on every start, then serve.
CMD ["sh", "-c", "alembic upgrade head && python -m app.cli seed && python -m app.cli demo-parcels && exec uvicorn app.main:app --host 0.0.0.0 --port 8000 --proxy-headers"]
