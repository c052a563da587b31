package com.example.greeter.greet;

import java.io.IOException;
import java.net.InetSocketAddress;
import java.time.Duration;
import java.util.concurrent.CompletableFuture;
import java.util.concurrent.TimeUnit;
import java.util.function.Consumer;

import com.example.greeter.system.DaprTraceContext;
import com.google.protobuf.Empty;
import io.dapr.client.DaprClient;
import io.dapr.client.DaprClientBuilder;
import io.dapr.config.Properties;
import io.dapr.v1.DaprGrpc;
import io.dapr.v1.DaprPubsubProtos.PublishEventRequest;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;
import io.micrometer.tracing.Span;
import io.micrometer.tracing.Tracer;
import io.micrometer.tracing.otel.bridge.OtelCurrentTraceContext;
import io.micrometer.tracing.otel.bridge.OtelPropagator;
import io.micrometer.tracing.otel.bridge.OtelTracer;
import io.opentelemetry.api.trace.propagation.W3CTraceContextPropagator;
import io.opentelemetry.context.propagation.ContextPropagators;
import io.opentelemetry.sdk.trace.SdkTracerProvider;
import org.junit.jupiter.api.AfterEach;
import org.junit.jupiter.api.BeforeEach;
import org.junit.jupiter.api.Test;
import tools.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;
import static org.assertj.core.api.Assertions.assertThatException;

/**
 * Greetings as greeter's sidecar receives them on its gRPC API (here a fake of it, on loopback), sent by the
 * real DaprClient: the pub/sub component, topic, JSON data, and the W3C trace of the span they are made in.
 */
class DaprGreetedPublisherTest {

	/** Generous: the first call of a JVM loads gRPC's classes and connects, which a busy machine makes slow. */
	private static final GreetingEvents EVENTS = new GreetingEvents("pubsub", "greeting.greeted",
			Duration.ofSeconds(10));

	private final SdkTracerProvider tracing = SdkTracerProvider.builder().build();

	private final Tracer tracer = new OtelTracer(this.tracing.get("test"), new OtelCurrentTraceContext(),
			event -> {
			});

	private final DaprTraceContext traceContext = new DaprTraceContext(this.tracer, new OtelPropagator(
			ContextPropagators.create(W3CTraceContextPropagator.getInstance()), this.tracing.get("test")));

	private final CompletableFuture<PublishEventRequest> published = new CompletableFuture<>();

	private final CompletableFuture<Metadata> headers = new CompletableFuture<>();

	/** How the fake sidecar answers a publish: by default, taken. */
	private volatile Consumer<StreamObserver<Empty>> answer = observer -> {
		observer.onNext(Empty.getDefaultInstance());
		observer.onCompleted();
	};

	private Server sidecar;

	private DaprClient dapr;

	private DaprGreetedPublisher publisher;

	@BeforeEach
	void startSidecar() throws IOException {
		DaprGrpc.AsyncService api = new DaprGrpc.AsyncService() {

			@Override
			public void publishEvent(PublishEventRequest request, StreamObserver<Empty> observer) {
				DaprGreetedPublisherTest.this.published.complete(request);
				DaprGreetedPublisherTest.this.answer.accept(observer);
			}

		};
		ServerInterceptor recordHeaders = new ServerInterceptor() {

			@Override
			public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata metadata,
					ServerCallHandler<Q, A> next) {
				DaprGreetedPublisherTest.this.headers.complete(metadata);
				return next.startCall(call, metadata);
			}

		};
		this.sidecar = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
			.addService(ServerInterceptors.intercept(DaprGrpc.bindService(api), recordHeaders))
			.build()
			.start();
		this.dapr = new DaprClientBuilder().withPropertyOverride(Properties.SIDECAR_IP, "127.0.0.1")
			.withPropertyOverride(Properties.GRPC_PORT, String.valueOf(this.sidecar.getPort()))
			.build();
		this.publisher = new DaprGreetedPublisher(this.dapr, this.traceContext, EVENTS);
	}

	@AfterEach
	void stopSidecar() throws Exception {
		this.dapr.close();
		this.sidecar.shutdownNow().awaitTermination(5, TimeUnit.SECONDS);
		this.tracing.close();
	}

	@Test
	void publishesTheGreetingAsJsonOnGreetingGreetedInTheCurrentTrace() throws Exception {
		Span span = this.tracer.nextSpan().name("POST /events/greeting-requested").start();
		try (Tracer.SpanInScope scope = this.tracer.withSpan(span)) {
			this.publisher.publish(new GreetingGreeted("3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a", "Hello, Ada!"));
		}
		finally {
			span.end();
		}

		PublishEventRequest request = this.published.get(5, TimeUnit.SECONDS);
		assertThat(request.getPubsubName()).isEqualTo("pubsub");
		assertThat(request.getTopic()).isEqualTo("greeting.greeted");
		assertThat(request.getDataContentType()).isEqualTo("application/json");
		ObjectMapper json = new ObjectMapper();
		assertThat(json.readTree(request.getData().toByteArray()))
			.isEqualTo(json.readTree("{\"id\":\"3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a\",\"message\":\"Hello, Ada!\"}"));
		assertThat(this.headers.get(5, TimeUnit.SECONDS).get(Metadata.Key.of("traceparent",
				Metadata.ASCII_STRING_MARSHALLER)))
			.startsWith("00-" + span.context().traceId() + "-" + span.context().spanId() + "-");
	}

	@Test
	void sendsNoTraceOutsideASpan() throws Exception {
		this.publisher.publish(new GreetingGreeted("3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a", "Hello, Ada!"));

		assertThat(this.headers.get(5, TimeUnit.SECONDS).containsKey(Metadata.Key.of("traceparent",
				Metadata.ASCII_STRING_MARSHALLER)))
			.isFalse();
	}

	@Test
	void failsWhenTheSidecarCannotPublish() {
		this.answer = observer -> observer.onError(Status.UNAVAILABLE.withDescription("pubsub is down").asException());

		assertThatException().isThrownBy(() -> this.publisher
			.publish(new GreetingGreeted("3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a", "Hello, Ada!")))
			.withMessageContaining("UNAVAILABLE");
	}

	@Test
	void givesUpOnASidecarThatDoesNotAnswerInTime() {
		this.answer = observer -> {
		};
		GreetingEvents events = new GreetingEvents("pubsub", "greeting.greeted", Duration.ofMillis(500));
		DaprGreetedPublisher impatient = new DaprGreetedPublisher(this.dapr, this.traceContext, events);
		long started = System.nanoTime();

		assertThatException().isThrownBy(
				() -> impatient.publish(new GreetingGreeted("3f1c1f8e-7a4e-4c33-9a51-0f1b3c1e2d4a", "Hello, Ada!")));

		assertThat(Duration.ofNanos(System.nanoTime() - started)).isBetween(events.publishTimeout(),
				events.publishTimeout().plusSeconds(4));
	}

}
