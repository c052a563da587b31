package com.example.comms.greet;

import org.springframework.boot.http.client.ClientHttpRequestFactoryBuilder;
import org.springframework.boot.http.client.HttpClientSettings;
import org.springframework.http.MediaType;
import org.springframework.http.client.BufferingClientHttpRequestFactory;
import org.springframework.http.client.ClientHttpRequestFactory;
import org.springframework.stereotype.Component;
import org.springframework.util.StringUtils;
import org.springframework.web.client.RestClient;

/**
 * Invokes greeter through the local Dapr sidecar, as Dapr recommends: a plain HTTP call to the
 * sidecar naming the target in {@code dapr-app-id}. Spring's RestClient records the call as a client
 * span and sends its {@code traceparent}, so the sidecars continue the request's trace.
 */
@Component
class SidecarGreeter implements Greeter {

	private final RestClient sidecar;

	private final String method;

	SidecarGreeter(RestClient.Builder builder, SidecarProperties sidecar, GreeterProperties greeter) {
		// Bounds on connecting and on waiting for the answer: past them, comms answers the fallback.
		// HttpURLConnection: the call's I/O on the request's own thread, with no hand-off between threads
		// (the JDK's HttpClient reads on a selector thread and Spring writes each body on another).
		ClientHttpRequestFactory http = ClientHttpRequestFactoryBuilder.simple()
			.build(HttpClientSettings.defaults().withTimeouts(greeter.timeout(), greeter.timeout()));
		RestClient.Builder client = builder.baseUrl(sidecar.httpEndpoint())
			// A body with a Content-Length: daprd retries only those; a chunked one it streams, once.
			.requestFactory(new BufferingClientHttpRequestFactory(http))
			.defaultHeader("dapr-app-id", greeter.appId());
		if (StringUtils.hasText(sidecar.apiToken())) {
			client.defaultHeader("dapr-api-token", sidecar.apiToken());
		}
		this.sidecar = client.build();
		this.method = greeter.method();
	}

	@Override
	public GreeterReply greet(String name) {
		return this.sidecar.post()
			.uri("/{method}", this.method)
			.contentType(MediaType.APPLICATION_JSON)
			.body(new GreetRequest(name))
			.retrieve()
			.body(GreeterReply.class);
	}

}
