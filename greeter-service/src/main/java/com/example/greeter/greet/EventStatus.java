package com.example.greeter.greet;

/**
 * What greeter answers its sidecar for an event, in Dapr's words: SUCCESS when it is done, DROP for one it
 * can never take, which daprd then sends to the dead-letter topic at once instead of delivering it again.
 * (The SDK's own enum of these, SubscriptionListener.Status, is deprecated in 1.17.)
 */
record EventStatus(String status) {

	static final EventStatus SUCCESS = new EventStatus("SUCCESS");

	static final EventStatus DROP = new EventStatus("DROP");

}
