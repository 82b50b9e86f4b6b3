# The image the chart runs (deploy/charts/rampart): the static binary on a
# distroless base, as user 65532. docker build -t REGISTRY/rampart:TAG .
FROM golang:1.26 AS build
WORKDIR /src
COPY go.mod go.sum ./
RUN go mod download
# Run `make js-assets` first: the build context then carries the HTML
# reports' graph library (pkg/report/assets/vendor, not committed).
COPY . .
RUN CGO_ENABLED=0 go build -trimpath -ldflags "-s -w" -o /out/rampart ./cmd/rampart

FROM gcr.io/distroless/static-debian12:nonroot
COPY --from=build /out/rampart /rampart
USER 65532:65532
ENTRYPOINT ["/rampart"]
