package com.example.greeter.system;

import java.math.BigInteger;
import java.util.Map;

import ch.qos.logback.classic.spi.ILoggingEvent;
import ch.qos.logback.classic.spi.LoggingEvent;
import org.junit.jupiter.api.Test;
import org.springframework.boot.json.JsonWriter;

import static org.assertj.core.api.Assertions.assertThat;

class DatadogTraceIdsTest {

	private final JsonWriter<ILoggingEvent> writer = JsonWriter.of(new DatadogTraceIds()::customize);

	@Test
	void addsTheLow64BitsOfTraceAndSpanIdsAsUnsignedDecimals() {
		// Both ids have their top bit set: a signed conversion would give negative numbers.
		String traceId = "4bf92f3577b34da6f3ce929d0e0e4736";
		String spanId = "e7ad6b7169203331";

		String json = this.writer.writeToString(event(Map.of("traceId", traceId, "spanId", spanId)));

		assertThat(json).isEqualTo("{\"dd.trace_id\":\"" + low64Bits(traceId) + "\",\"dd.span_id\":\""
				+ low64Bits(spanId) + "\"}");
		assertThat(low64Bits(traceId)).isEqualTo("17568140399662221110");
	}

	@Test
	void addsNothingOutsideATrace() {
		assertThat(this.writer.writeToString(event(Map.of()))).isEqualTo("{}");
	}

	private static String low64Bits(String hex) {
		return new BigInteger(hex, 16).mod(BigInteger.TWO.pow(64)).toString();
	}

	private static LoggingEvent event(Map<String, String> mdc) {
		LoggingEvent event = new LoggingEvent();
		event.setMDCPropertyMap(mdc);
		return event;
	}

}
