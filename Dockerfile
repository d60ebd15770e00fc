# Production image: gunicorn serves the app, whitenoise the static files.
FROM python:3.11-slim-bookworm

ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1

WORKDIR /app
RUN useradd --create-home --uid 1000 leadshare

COPY pyproject.toml README.md ./
COPY config ./config
COPY tenancy ./tenancy
COPY partners ./partners
COPY leads ./leads
COPY routing ./routing
COPY escalation ./escalation
COPY reporting ./reporting
COPY portal ./portal
RUN pip install .

COPY . .
# Static files and compiled translations are baked into the image at build time.
RUN pybabel -q compile -d locale -D django \
    && DEBUG=0 SECRET_KEY=build-only-not-secret python manage.py collectstatic --noinput \
    && mkdir -p /app/var && chown -R leadshare /app/var

USER leadshare
EXPOSE 8000
CMD ["gunicorn", "config.wsgi:application", "--bind", "0.0.0.0:8000", "--workers", "3", "--access-logfile", "-"]
