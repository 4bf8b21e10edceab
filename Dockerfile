# One container: UI + API on port 8080; the SQLite database and git mirrors in /data, GGUF models in /models.
# The build steps live in build/image.sh, which CI runs too (the image's content is tested where images cannot run).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
# clang and zlib: Native AOT links the linux-x64 client; lld and the arm64 cross compiler's libraries link the
# linux-arm64 one (build/clients.sh).
RUN apt-get update && apt-get install -y --no-install-recommends npm clang lld zlib1g-dev gcc-aarch64-linux-gnu libc6-dev-arm64-cross && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN bash build/image.sh /out

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /out/app .
# Volumes owned by the non-root user the server runs as.
RUN mkdir -p /data /models && chown "$APP_UID" /data /models
ENV ASPNETCORE_URLS=http://+:8080 \
    SKILLLOOP_DATA=/data \
    SKILLLOOP_MODELS=/models
VOLUME ["/data", "/models"]
EXPOSE 8080
USER $APP_UID
HEALTHCHECK --interval=30s --timeout=10s --start-period=60s --retries=3 CMD ["dotnet", "/app/SkillLoop.Web.dll", "healthcheck"]
ENTRYPOINT ["dotnet", "SkillLoop.Web.dll"]
