"""Building run images: the base image, the wheelhouse, the Dockerfile plan, the runtime closure and the OCI layer."""
