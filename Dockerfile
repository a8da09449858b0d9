FROM python:3.11-slim

WORKDIR /srv
ENV PYTHONUNBUFFERED=1 PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1

# The pinned dependencies first, in a layer of their own: a change to the code reuses it.
COPY requirements/runtime.txt requirements/runtime.txt
RUN pip install -r requirements/runtime.txt

COPY pyproject.toml README.md ./
COPY app ./app
RUN pip install --no-deps .
COPY alembic.ini ./
COPY migrations ./migrations
COPY scripts/docker-start.sh /usr/local/bin/kaltim-start

RUN useradd --system --no-create-home kaltim
USER kaltim
EXPOSE 8000
HEALTHCHECK --interval=2s --timeout=3s --start-period=120s --retries=3 \
    CMD python -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:8000/health', timeout=2)"

CMD ["kaltim-start"]
