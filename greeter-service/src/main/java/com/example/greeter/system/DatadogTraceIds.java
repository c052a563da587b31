package com.example.greeter.system;

import ch.qos.logback.classic.spi.ILoggingEvent;
import org.springframework.boot.json.JsonWriter.Members;
import org.springframework.boot.logging.structured.StructuredLoggingJsonMembersCustomizer;

/**
 * Adds the current trace to each JSON log line in Datadog's form, beside OpenTelemetry's hex
 * trace_id and span_id: dd.trace_id and dd.span_id, the low 64 bits of each as an unsigned decimal.
 * Datadog ties a log line to its trace by these, and its OTLP ingest keeps the low 64 bits of an
 * OpenTelemetry trace id as the trace's id. Set by logging.structured.json.customizer.
 */
public class DatadogTraceIds implements StructuredLoggingJsonMembersCustomizer<ILoggingEvent> {

	@Override
	public void customize(Members<ILoggingEvent> members) {
		members.add("dd.trace_id", (event) -> event.getMDCPropertyMap().get("traceId"))
			.whenHasLength()
			.as(DatadogTraceIds::low64BitsAsDecimal);
		members.add("dd.span_id", (event) -> event.getMDCPropertyMap().get("spanId"))
			.whenHasLength()
			.as(DatadogTraceIds::low64BitsAsDecimal);
	}

	/** "4bf92f3577b34da6a3ce929d0e0e4736" → "11803532876627986230": its last 16 hex digits, in decimal. */
	static String low64BitsAsDecimal(String hex) {
		return Long.toUnsignedString(Long.parseUnsignedLong(hex.substring(Math.max(0, hex.length() - 16)), 16));
	}

}
