package com.example.comms.greetings;

/**
 * Where the receipt of each completed greeting goes: Dapr's output binding ({@link DaprReceipts}: a file,
 * or an S3 object), or a fake in unit tests. Throws {@link SidecarUnavailable} when it cannot be written.
 */
interface Receipts {

	/** Writes the receipt as {@code <id>.json}, over one written before: a redelivered event writes it again. */
	void write(Receipt receipt);

	record Receipt(String id, String message, String greetedAt) {
	}

}
