package com.example.greeter.greet;

/** Where a greeting goes once made: the greeting.greeted topic. */
interface GreetedPublisher {

	/** Returns once the event is taken; throws if it was not, in time. */
	void publish(GreetingGreeted greeted);

}
