package com.example.comms.greet;

import java.io.IOException;
import java.io.OutputStream;
import java.net.InetSocketAddress;
import java.nio.charset.StandardCharsets;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;

import com.sun.net.httpserver.HttpExchange;
import com.sun.net.httpserver.HttpServer;
import tools.jackson.databind.ObjectMapper;

/**
 * A real HTTP server standing exactly where daprd's HTTP API would be, recording what comms
 * sends it. It stands in for the sidecar only in these tests; the end-to-end tests use real daprd.
 */
final class SidecarStandIn implements AutoCloseable {

	enum Behaviour {

		ANSWER, FAIL, HANG

	}

	record Received(String method, String path, Map<String, String> headers, String body) {

		String header(String name) {
			return this.headers.get(name.toLowerCase());
		}

	}

	private static final ObjectMapper json = new ObjectMapper();

	private final HttpServer server;

	private final ExecutorService executor = Executors.newCachedThreadPool();

	private final BlockingQueue<Received> received = new LinkedBlockingQueue<>();

	private final CountDownLatch released = new CountDownLatch(1);

	private volatile Behaviour behaviour = Behaviour.ANSWER;

	static SidecarStandIn start() {
		try {
			return new SidecarStandIn();
		}
		catch (IOException ex) {
			throw new java.io.UncheckedIOException(ex);
		}
	}

	private SidecarStandIn() throws IOException {
		this.server = HttpServer.create(new InetSocketAddress("127.0.0.1", 0), 0);
		this.server.setExecutor(this.executor);
		this.server.createContext("/", this::handle);
		this.server.start();
	}

	String endpoint() {
		return "http://127.0.0.1:" + this.server.getAddress().getPort();
	}

	void behave(Behaviour behaviour) {
		this.behaviour = behaviour;
	}

	/** The next request the sidecar received, waiting up to the given time for it. */
	Received nextRequest(long timeout, TimeUnit unit) throws InterruptedException {
		return this.received.poll(timeout, unit);
	}

	void forgetRequests() {
		this.received.clear();
	}

	private void handle(HttpExchange exchange) throws IOException {
		try (exchange) {
			Map<String, String> headers = new java.util.HashMap<>();
			exchange.getRequestHeaders().forEach((name, values) -> headers.put(name.toLowerCase(), values.get(0)));
			String body = new String(exchange.getRequestBody().readAllBytes(), StandardCharsets.UTF_8);
			this.received.add(new Received(exchange.getRequestMethod(), exchange.getRequestURI().getRawPath(),
					headers, body));
			switch (this.behaviour) {
				case ANSWER -> {
					String name = json.readTree(body).path("name").asText();
					respond(exchange, 200, json.writeValueAsString(new GreeterReply("Hello, " + name + "!", "greeter")));
				}
				case FAIL -> respond(exchange, 500, "{\"errorCode\":\"ERR_DIRECT_INVOKE\",\"message\":\"boom\"}");
				case HANG -> {
					awaitRelease();
					respond(exchange, 200, "{\"message\":\"Hello, too late!\",\"service\":\"greeter\"}");
				}
			}
		}
	}

	private void awaitRelease() {
		try {
			this.released.await(30, TimeUnit.SECONDS);
		}
		catch (InterruptedException ex) {
			Thread.currentThread().interrupt();
		}
	}

	private static void respond(HttpExchange exchange, int status, String body) throws IOException {
		byte[] bytes = body.getBytes(StandardCharsets.UTF_8);
		exchange.getResponseHeaders().set("Content-Type", "application/json");
		exchange.sendResponseHeaders(status, bytes.length);
		try (OutputStream out = exchange.getResponseBody()) {
			out.write(bytes);
		}
	}

	@Override
	public void close() {
		this.released.countDown();
		this.server.stop(0);
		this.executor.shutdownNow();
	}

}
