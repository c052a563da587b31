package com.example.comms.greetings;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.InetSocketAddress;
import java.util.HashMap;
import java.util.Map;
import java.util.concurrent.BlockingQueue;
import java.util.concurrent.ConcurrentHashMap;
import java.util.concurrent.LinkedBlockingQueue;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicLong;

import com.google.protobuf.ByteString;
import com.google.protobuf.Empty;
import com.google.protobuf.Message;
import io.dapr.v1.CommonProtos.StateItem;
import io.dapr.v1.DaprBindingsProtos.InvokeBindingRequest;
import io.dapr.v1.DaprBindingsProtos.InvokeBindingResponse;
import io.dapr.v1.DaprGrpc;
import io.dapr.v1.DaprStateProtos.ExecuteStateTransactionRequest;
import io.dapr.v1.DaprStateProtos.GetStateRequest;
import io.dapr.v1.DaprStateProtos.GetStateResponse;
import io.dapr.v1.DaprStateProtos.SaveStateRequest;
import io.grpc.Context;
import io.grpc.Contexts;
import io.grpc.Metadata;
import io.grpc.Server;
import io.grpc.ServerCall;
import io.grpc.ServerCallHandler;
import io.grpc.ServerInterceptor;
import io.grpc.ServerInterceptors;
import io.grpc.Status;
import io.grpc.netty.NettyServerBuilder;
import io.grpc.stub.StreamObserver;

/**
 * A real gRPC server standing exactly where daprd's gRPC API would be, recording what comms sends it:
 * as much of a sidecar as the greetings use, a state store with etags and a binding. It stands in for
 * the sidecar only in these tests; the end-to-end tests use real daprd.
 */
public final class DaprSidecarStandIn implements AutoCloseable {

	public enum Behaviour {

		ANSWER, FAIL, HANG

	}

	/** One call: its method, its request and its metadata (the gRPC headers). */
	public record Call(String method, Message request, Map<String, String> headers) {

		<T extends Message> T request(Class<T> type) {
			return type.cast(this.request);
		}

	}

	private record Stored(ByteString value, String etag) {
	}

	private static final Context.Key<Map<String, String>> HEADERS = Context.key("headers");

	private final BlockingQueue<Call> calls = new LinkedBlockingQueue<>();

	private final Map<String, Stored> state = new ConcurrentHashMap<>();

	private final AtomicLong etags = new AtomicLong();

	private final Server server;

	private volatile Behaviour behaviour = Behaviour.ANSWER;

	public static DaprSidecarStandIn start() {
		try {
			return new DaprSidecarStandIn();
		}
		catch (IOException ex) {
			throw new UncheckedIOException(ex);
		}
	}

	private DaprSidecarStandIn() throws IOException {
		ServerInterceptor headers = new ServerInterceptor() {
			@Override
			public <Q, A> ServerCall.Listener<Q> interceptCall(ServerCall<Q, A> call, Metadata metadata,
					ServerCallHandler<Q, A> next) {
				Map<String, String> all = new HashMap<>();
				for (String key : metadata.keys()) {
					if (!key.endsWith(Metadata.BINARY_HEADER_SUFFIX)) {
						all.put(key, metadata.get(Metadata.Key.of(key, Metadata.ASCII_STRING_MARSHALLER)));
					}
				}
				return Contexts.interceptCall(Context.current().withValue(HEADERS, all), call, metadata, next);
			}
		};
		this.server = NettyServerBuilder.forAddress(new InetSocketAddress("127.0.0.1", 0))
			.addService(ServerInterceptors.intercept(new Sidecar(), headers))
			.build()
			.start();
	}

	public int port() {
		return this.server.getPort();
	}

	public void behave(Behaviour behaviour) {
		this.behaviour = behaviour;
	}

	/** The next call the sidecar received, waiting up to the given time for it. */
	public Call nextCall(long timeout, TimeUnit unit) throws InterruptedException {
		return this.calls.poll(timeout, unit);
	}

	public void forgetCalls() {
		this.calls.clear();
	}

	/** The value stored under the key, as the sidecar got it (JSON), or null. */
	String stored(String key) {
		Stored stored = this.state.get(key);
		return (stored != null) ? stored.value().toStringUtf8() : null;
	}

	/** Stores a value as if comms had, for a test to start from. */
	void store(String key, String json) {
		this.state.put(key, new Stored(ByteString.copyFromUtf8(json), nextEtag()));
	}

	@Override
	public void close() {
		this.server.shutdownNow();
	}

	private String nextEtag() {
		return String.valueOf(this.etags.incrementAndGet());
	}

	private final class Sidecar extends DaprGrpc.DaprImplBase {

		@Override
		public void executeStateTransaction(ExecuteStateTransactionRequest request, StreamObserver<Empty> answer) {
			if (received("ExecuteStateTransaction", request, answer)) {
				// The outbox's projection is published, not stored.
				request.getOperationsList()
					.stream()
					.map(operation -> operation.getRequest())
					.filter(item -> !"true".equals(item.getMetadataMap().get("outbox.projection")))
					.forEach(item -> state.put(item.getKey(), new Stored(item.getValue(), nextEtag())));
				reply(answer, Empty.getDefaultInstance());
			}
		}

		@Override
		public void getState(GetStateRequest request, StreamObserver<GetStateResponse> answer) {
			if (received("GetState", request, answer)) {
				Stored stored = state.get(request.getKey());
				reply(answer, (stored != null)
						? GetStateResponse.newBuilder().setData(stored.value()).setEtag(stored.etag()).build()
						: GetStateResponse.getDefaultInstance());
			}
		}

		@Override
		public void saveState(SaveStateRequest request, StreamObserver<Empty> answer) {
			if (received("SaveState", request, answer)) {
				for (StateItem item : request.getStatesList()) {
					Stored current = state.get(item.getKey());
					if (item.hasEtag() && (current == null || !current.etag().equals(item.getEtag().getValue()))) {
						// What daprd answers when the etag no longer matches.
						answer.onError(Status.ABORTED.withDescription("possible etag mismatch").asRuntimeException());
						return;
					}
					state.put(item.getKey(), new Stored(item.getValue(), nextEtag()));
				}
				reply(answer, Empty.getDefaultInstance());
			}
		}

		@Override
		public void invokeBinding(InvokeBindingRequest request, StreamObserver<InvokeBindingResponse> answer) {
			if (received("InvokeBinding", request, answer)) {
				reply(answer, InvokeBindingResponse.getDefaultInstance());
			}
		}

		/** Records the call; true if it is to be answered as asked. */
		private boolean received(String method, Message request, StreamObserver<?> answer) {
			calls.add(new Call(method, request, HEADERS.get()));
			switch (behaviour) {
				case ANSWER -> {
					return true;
				}
				case FAIL -> answer.onError(Status.UNAVAILABLE.withDescription("component down").asRuntimeException());
				case HANG -> {
					// No answer: the call ends when comms gives up, or the server stops.
				}
			}
			return false;
		}

		private static <T> void reply(StreamObserver<T> answer, T value) {
			answer.onNext(value);
			answer.onCompleted();
		}

	}


}
