package com.example.comms.greetings;

/**
 * What an event route answers its sidecar: SUCCESS (taken now or before: delivery is at least once) or
 * DROP (it can never be taken), on which daprd sends the event to the dead-letter topic at once.
 */
record EventAnswer(String status) {

	static final EventAnswer SUCCESS = new EventAnswer("SUCCESS");

	static final EventAnswer DROP = new EventAnswer("DROP");

}
