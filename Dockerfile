# Minimal image (hardening, health check and the tested build script come with the container issue).
FROM mcr.microsoft.com/dotnet/sdk:10.0 AS build
RUN apt-get update && apt-get install -y --no-install-recommends npm && rm -rf /var/lib/apt/lists/*
WORKDIR /src
COPY . .
RUN dotnet publish SkillLoop.Web -c Release -o /app

FROM mcr.microsoft.com/dotnet/aspnet:10.0
WORKDIR /app
COPY --from=build /app .
ENV ASPNETCORE_URLS=http://+:8080 SKILLLOOP_DATA=/data SKILLLOOP_MODELS=/models
VOLUME ["/data", "/models"]
EXPOSE 8080
USER $APP_UID
ENTRYPOINT ["dotnet", "SkillLoop.Web.dll"]
