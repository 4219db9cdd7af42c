# syntax=docker/dockerfile:1
# One image for the three Python deployables; docker-compose.yml picks the command:
#   collector  python -m services.collector   (port 8080)
#   worker     python -m streams
#   api        python -m services.api         (port 8081)

# Build the web snippet from its lockfile (esbuild), so the image serves what the tests ran.
FROM node:20-slim AS snippet
WORKDIR /src/web-snippet
COPY web-snippet/package.json web-snippet/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web-snippet/src ./src
RUN npm run build

# The staff pages' and privacy center's script and styles (uPlot inside) and Swagger UI's files.
FROM node:20-slim AS ui
WORKDIR /src/web-ui
COPY web-ui/package.json web-ui/package-lock.json ./
RUN npm ci --no-audit --no-fund
COPY web-ui/src ./src
COPY web-ui/build.mjs ./
RUN npm run build

# Build wheels for the project and every dependency, so the runtime stage needs no build tools.
FROM python:3.11-slim AS wheels
ENV PIP_NO_CACHE_DIR=1 PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /src
COPY pyproject.toml README.md ./
COPY consentstream ./consentstream
# The operator tools too: `consentstream migrate`, `keys create` and `requests` run in the image.
COPY ops ./ops
COPY schemas ./schemas
COPY services ./services
COPY streams ./streams
RUN pip wheel --wheel-dir /wheels .

FROM python:3.11-slim
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
RUN --mount=type=bind,from=wheels,source=/wheels,target=/wheels \
    pip install --no-index --find-links=/wheels consentstream \
 && useradd --system --user-group --uid 10001 --home-dir /app --no-create-home consentstream \
 && install -d -o consentstream -g consentstream /var/lib/consentstream/worker
WORKDIR /app
# The snippet and the demo site are not Python package data; the collector reads them from here.
COPY --from=snippet /src/web-snippet/dist/snippet.js /app/web-snippet/dist/snippet.js
COPY --from=snippet /src/web-snippet/dist/snippet.css /app/web-snippet/dist/snippet.css
COPY web-snippet/demo /app/web-snippet/demo
COPY --from=ui /src/web-ui/dist /app/web-ui/dist
# Data, not code: the API builds access reports and retention from the data map; the worker
# classifies observed cookies with the catalogue (it refuses to start without it).
COPY data/data-map.yaml data/cookie-catalogue.yaml /app/data/
ENV CONSENTSTREAM_SNIPPET_PATH=/app/web-snippet/dist/snippet.js \
    CONSENTSTREAM_DEMO_DIR=/app/web-snippet/demo \
    CONSENTSTREAM_UI_ASSETS_DIR=/app/web-ui/dist \
    CONSENTSTREAM_DATA_MAP_PATH=/app/data/data-map.yaml \
    CONSENTSTREAM_COOKIE_CATALOGUE_PATH=/app/data/cookie-catalogue.yaml \
    CONSENTSTREAM_WORKER_DATA_DIR=/var/lib/consentstream/worker
USER consentstream
EXPOSE 8080 8081
CMD ["python", "-m", "services.collector"]
