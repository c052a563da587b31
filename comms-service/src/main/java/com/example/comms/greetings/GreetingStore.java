package com.example.comms.greetings;

import java.util.Optional;

/**
 * Where comms keeps its greetings: Dapr's state store ({@link DaprGreetingStore}), or a fake in unit tests.
 * Each method throws {@link SidecarUnavailable} when the store cannot answer in time.
 */
interface GreetingStore {

	/**
	 * Stores a new greeting and its {@code greeting.requested} event in one transaction: the store's outbox
	 * publishes the event once the greeting is stored, and never without it.
	 */
	void add(Greeting greeting);

	/**
	 * Stores the greeting again with its event, as {@link #add} does, unless something wrote it since it was
	 * read at this etag: the outbox publishes the event again.
	 */
	void sendAgain(Greeting greeting, String etag);

	Optional<Versioned> find(String id);

	/** Replaces the greeting if nothing wrote it since it was read at this etag; false if another write came first. */
	boolean replace(Greeting greeting, String etag);

	/** A stored greeting and the etag it was read at. */
	record Versioned(Greeting greeting, String etag) {
	}

}
