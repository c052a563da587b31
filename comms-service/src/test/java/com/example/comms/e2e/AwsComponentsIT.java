package com.example.comms.e2e;

import java.io.IOException;
import java.io.UncheckedIOException;
import java.net.URI;
import java.net.URLDecoder;
import java.net.URLEncoder;
import java.net.http.HttpClient;
import java.net.http.HttpRequest;
import java.net.http.HttpRequest.BodyPublishers;
import java.net.http.HttpResponse;
import java.net.http.HttpResponse.BodyHandlers;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.ArrayList;
import java.util.Base64;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Collectors;
import java.util.stream.Stream;

import org.junit.jupiter.api.MethodOrderer;
import org.junit.jupiter.api.Order;
import org.junit.jupiter.api.Test;
import org.junit.jupiter.api.TestMethodOrder;
import org.junit.jupiter.api.extension.AfterAllCallback;
import org.junit.jupiter.api.extension.BeforeAllCallback;
import org.junit.jupiter.api.extension.ExtensionContext;
import org.junit.jupiter.api.extension.RegisterExtension;
import org.yaml.snakeyaml.Yaml;
import tools.jackson.databind.JsonNode;
import tools.jackson.databind.ObjectMapper;

import static org.assertj.core.api.Assertions.assertThat;

/**
 * The components EKS deploys (kubernetes/aws) as they are, only their endpoint added, in real daprd sidecars against
 * moto, an emulator of the AWS APIs: its table, topics, queues and bucket made as scripts/deploy.sh makes them, under
 * the names deploy.sh gives them, and the sidecars with the emulator's keys where EKS Pod Identity gives them a role.
 * A greeting is stored in DynamoDB with its event through Dapr's outbox, reaches greeter over SNS and SQS (the
 * sidecars create nothing: disableEntityManagement), comes back the same way, and comms writes its receipt to S3;
 * every AWS call the sidecars made is one that eksctl/cluster.yaml's Pod Identity policies allow.
 */
@TestMethodOrder(MethodOrderer.OrderAnnotation.class)
class AwsComponentsIT {

	@RegisterExtension
	@Order(1)
	static final Moto moto = new Moto();

	@RegisterExtension
	@Order(2)
	static final RealDaprStack real = RealDaprStack.withComponents(moto::components);

	private static final ObjectMapper json = new ObjectMapper();

	private static final HttpClient http = HttpClient.newHttpClient();

	private static final Duration DONE_WITHIN = Duration.ofSeconds(60);

	@Test
	@Order(1)
	void aGreetingIsStoredInDynamoDbGreetedOverSnsAndSqsWithItsReceiptInS3AndOneEventFromTheOutbox() throws Exception {
		HttpResponse<String> accepted = http.send(HttpRequest.newBuilder(URI.create(real.stack().commsUrl("/greetings")))
			.header("Content-Type", "application/json")
			.POST(BodyPublishers.ofString("{\"name\":\"Ada\"}"))
			.timeout(Duration.ofSeconds(30))
			.build(), BodyHandlers.ofString());
		assertThat(accepted.statusCode()).as(accepted.body() + "\n" + real.stack().logs()).isEqualTo(202);
		String id = json.readTree(accepted.body()).path("id").asText();

		assertThat(awaitDone(id).path("message").asText()).isEqualTo("Hello, Ada!");

		JsonNode receipt = json.readTree(moto.s3Object(moto.bucket, id + ".json"));
		assertThat(receipt.path("id").asText()).isEqualTo(id);
		assertThat(receipt.path("message").asText()).isEqualTo("Hello, Ada!");
		Map<String, JsonNode> items = moto.tableItems();
		// Dapr's key: app id, ||, the key comms gives; the value as the sidecar got it from comms: bytes (binary, B).
		assertThat(json.readTree(Base64.getDecoder().decode(items.get("comms||" + id).path("value").path("B").asText()))
			.path("status")
			.asText()).as("comms' greeting in the table, in %s", items).isEqualTo("done");
		// The outbox deletes its own item once it has published the event.
		assertThat(items.keySet()).as("items of the table").noneMatch(key -> key.startsWith("outbox-"));
		List<JsonNode> requested = moto.drainEvents(moto.observer);
		assertThat(requested).as("greeting.requested events").hasSize(1);
		assertThat(requested.getFirst().path("topic").asText()).isEqualTo("greeting.requested");
		assertThat(requested.getFirst().path("data").path("id").asText()).isEqualTo(id);
		assertThat(requested.getFirst().path("data").path("name").asText()).isEqualTo("Ada");
	}

	// After the greeting: its calls are among those checked.
	@Test
	@Order(2)
	void everyAwsCallOfTheSidecarsIsOneTheirPodIdentityPoliciesAllow() throws Exception {
		List<Grant> grants = podIdentityGrants(moto.account);
		List<AwsCall> calls = moto.sidecarCalls();

		assertThat(calls).as("the sidecars' AWS calls").isNotEmpty();
		assertThat(calls.stream().filter(call -> grants.stream().noneMatch(grant -> grant.allows(call))).distinct())
			.as("the sidecars' calls that no statement of eksctl/cluster.yaml's podIdentityAssociations allows")
			.isEmpty();
	}

	/** One AWS call, as IAM sees it: the action it needs, on the resource's ARN. */
	record AwsCall(String action, String resource) {
	}

	/** One statement of an IAM policy: its actions on its resources (ARNs, * for any characters). */
	record Grant(List<String> actions, List<Pattern> resources) {

		boolean allows(AwsCall call) {
			return this.actions.contains(call.action())
					&& this.resources.stream().anyMatch(resource -> resource.matcher(call.resource()).matches());
		}

	}

	/**
	 * The statements of the inline policies eksctl/cluster.yaml gives comms' and greeter's roles, for ACCOUNT. Their
	 * conditions are left out: IAM checks them on AWS (that the bucket is the account's, here true).
	 */
	@SuppressWarnings("unchecked")
	private static List<Grant> podIdentityGrants(String account) throws IOException {
		Map<String, Object> cluster = new Yaml().load(Files.readString(DaprStack.required("e2e.eksctlCluster")));
		List<Grant> grants = new ArrayList<>();
		for (Map<String, Object> association : (List<Map<String, Object>>) ((Map<String, Object>) cluster.get("iam"))
			.get("podIdentityAssociations")) {
			for (Map<String, Object> statement : (List<Map<String, Object>>) ((Map<String, Object>) association
				.get("permissionPolicy")).get("Statement")) {
				grants.add(new Grant(strings(statement.get("Action")), strings(statement.get("Resource")).stream()
					.map(arn -> Pattern.compile(Stream.of(arn.replace("${aws:PrincipalAccount}", account).split("\\*", -1))
						.map(Pattern::quote)
						.collect(Collectors.joining(".*"))))
					.toList()));
			}
		}
		return grants;
	}

	/** An IAM policy's string, or list of strings. */
	@SuppressWarnings("unchecked")
	private static List<String> strings(Object value) {
		return (value instanceof List<?> list) ? (List<String>) list : List.of((String) value);
	}

	private static JsonNode awaitDone(String id) throws Exception {
		long deadline = System.nanoTime() + DONE_WITHIN.toNanos();
		String last = "";
		while (System.nanoTime() < deadline) {
			HttpResponse<String> status = http.send(
					HttpRequest.newBuilder(URI.create(real.stack().commsUrl("/greetings/" + id)))
						.timeout(Duration.ofSeconds(30))
						.build(),
					BodyHandlers.ofString());
			last = status.statusCode() + " " + status.body();
			JsonNode greeting = json.readTree(status.body());
			if (status.statusCode() == 200 && "done".equals(greeting.path("status").asText())) {
				return greeting;
			}
			Thread.sleep(200);
		}
		throw new AssertionError("greeting " + id + " not done within " + DONE_WITHIN + ": " + last + "\n"
				+ real.stack().logs() + "\n" + moto.process.tail(20));
	}

	/**
	 * moto_server on a free loopback port, with the AWS resources of the greetings' events made as scripts/deploy.sh
	 * makes them, and one more SQS queue, the test's, that also reads greeting.requested.
	 */
	static final class Moto implements BeforeAllCallback, AfterAllCallback {

		private static final String REGION = "us-west-2";

		/** The AWS SDK of daprd, in the User-Agent of each of its requests: the test's own calls carry none. */
		private static final String SIDECAR_SDK = "aws-sdk-go-v2";

		/** The test's own SQS queue, which reads what greeter's reads: greeting.requested. */
		private static final String OBSERVER_QUEUE = "e2e-observer";

		private final int port = DaprStack.freePort();

		private final String endpoint = "http://127.0.0.1:" + this.port;

		private Path workDir;

		private ManagedProcess process;

		private String account;

		private String table;

		private String bucket;

		/** The URL of the test's own queue, subscribed to greeting.requested's topic. */
		private String observer;

		@Override
		public void beforeAll(ExtensionContext context) throws IOException, InterruptedException {
			this.workDir = Files.createDirectories(
					Path.of(System.getProperty("e2e.workDir"), context.getRequiredTestClass().getSimpleName()));
			this.process = ManagedProcess
				.start("moto", List.of(DaprStack.required("e2e.moto").toString(), "-H", "127.0.0.1", "-p",
						String.valueOf(this.port)), Map.of("MOTO_ENABLE_RECORDING", "true", "MOTO_RECORDER_FILEPATH",
								this.workDir.resolve("moto-recording.jsonl").toString()), this.workDir)
				.awaitHealthy(this.endpoint + "/moto-api/", Duration.ofSeconds(60));
			createAsDeployDoes();
		}

		@Override
		public void afterAll(ExtensionContext context) {
			if (this.process != null) {
				this.process.close();
			}
		}

		/** What scripts/deploy.sh creates, under the names lib.sh gives it (read from there), through the emulator's APIs. */
		private void createAsDeployDoes() throws IOException, InterruptedException {
			String names = Files.readString(DaprStack.required("e2e.libScript"));
			this.account = find(query("sts", "Action=GetCallerIdentity&Version=2011-06-15"),
					"<Account>([0-9]{12})</Account>");
			this.table = shellValue(names, "EVENTS_TABLE");
			this.bucket = shellValue(names, "RECEIPTS_BUCKET").replace("\"", "")
				.replace("$ACCOUNT", this.account)
				.replace("$AWS_REGION_OF_CLUSTER", REGION);
			call("dynamodb", "DynamoDB_20120810.CreateTable", Map.of("TableName", this.table, "BillingMode",
					"PAY_PER_REQUEST", "AttributeDefinitions", List.of(Map.of("AttributeName", "key", "AttributeType", "S")),
					"KeySchema", List.of(Map.of("AttributeName", "key", "KeyType", "HASH"))));
			Map<String, List<String>> queues = new LinkedHashMap<>();
			for (String entry : shellArray(names, "EVENTS_QUEUES")) {
				String[] queueAndTopics = entry.split(":", 2);
				queues.put(queueAndTopics[0], List.of(queueAndTopics[1].split(" ")));
			}
			for (List<String> topics : queues.values()) {
				for (String topic : topics) {
					query("sns", "Action=CreateTopic&Version=2010-03-31&Name=" + encode(topic));
				}
			}
			queues.put(OBSERVER_QUEUE, queues.get("greeter"));
			for (Map.Entry<String, List<String>> queue : queues.entrySet()) {
				String url = call("sqs", "AmazonSQS.CreateQueue", Map.of("QueueName", queue.getKey())).path("QueueUrl")
					.asText();
				call("sqs", "AmazonSQS.SetQueueAttributes",
						Map.of("QueueUrl", url, "Attributes", Map.of("Policy", queuePolicy(queue.getKey(), queue.getValue()))));
				for (String topic : queue.getValue()) {
					query("sns", "Action=Subscribe&Version=2010-03-31&Protocol=sqs&TopicArn=" + encode(arn("sns", topic))
							+ "&Endpoint=" + encode(arn("sqs", queue.getKey())));
				}
				if (queue.getKey().equals(OBSERVER_QUEUE)) {
					this.observer = url;
				}
			}
			send("s3", HttpRequest.newBuilder(URI.create(this.endpoint + "/" + this.bucket))
				.PUT(BodyPublishers.ofString("<CreateBucketConfiguration xmlns=\"http://s3.amazonaws.com/doc/2006-03-01/\">"
						+ "<LocationConstraint>" + REGION + "</LocationConstraint></CreateBucketConfiguration>")));
		}

		/**
		 * kubernetes/aws's Dapr components with only {@code endpoint} added, and the Resiliency files kubernetes/
		 * deploys; the sidecars get the emulator's keys, and the bucket's name as deploy.sh gives it to comms'.
		 */
		DaprStack.Components components() {
			try {
				Path folder = Files.createDirectories(this.workDir.resolve("aws-components"));
				copyDaprDocuments(DaprStack.required("e2e.awsComponents"), folder, true);
				copyDaprDocuments(DaprStack.resiliencyFile().getParent(), folder, false);
				return new DaprStack.Components(folder, Map.of("AWS_ACCESS_KEY_ID", "test", "AWS_SECRET_ACCESS_KEY",
						"test", "AWS_REGION", REGION, "RECEIPTS_BUCKET", this.bucket));
			}
			catch (IOException ex) {
				throw new UncheckedIOException(ex);
			}
		}

		/** Each file's Dapr documents (not kustomize's) into FOLDER; components with this emulator's endpoint. */
		@SuppressWarnings("unchecked")
		private void copyDaprDocuments(Path from, Path folder, boolean addEndpoint) throws IOException {
			Yaml yaml = new Yaml();
			try (Stream<Path> files = Files.list(from)) {
				for (Path file : files.filter(f -> f.toString().endsWith(".yaml")).sorted().toList()) {
					List<Object> documents = new ArrayList<>();
					for (Object loaded : yaml.loadAll(Files.readString(file))) {
						Map<String, Object> document = (Map<String, Object>) loaded;
						if (!"dapr.io/v1alpha1".equals(document.get("apiVersion"))) {
							continue;
						}
						if (addEndpoint && "Component".equals(document.get("kind"))) {
							List<Object> metadata = (List<Object>) ((Map<String, Object>) document.get("spec"))
								.get("metadata");
							metadata.add(Map.of("name", "endpoint", "value", this.endpoint));
						}
						documents.add(document);
					}
					if (!documents.isEmpty()) {
						Files.writeString(folder.resolve(file.getFileName()), yaml.dumpAll(documents.iterator()));
					}
				}
			}
		}

		String s3Object(String bucket, String key) throws IOException, InterruptedException {
			return send("s3", HttpRequest.newBuilder(URI.create(this.endpoint + "/" + bucket + "/" + key)).GET());
		}

		/** Every item of the table, by its key. */
		Map<String, JsonNode> tableItems() throws IOException, InterruptedException {
			Map<String, JsonNode> items = new LinkedHashMap<>();
			for (JsonNode item : call("dynamodb", "DynamoDB_20120810.Scan", Map.of("TableName", this.table)).path("Items")) {
				items.put(item.path("key").path("S").asText(), item);
			}
			return items;
		}

		/** The CloudEvents of every message waiting in the queue at QUEUE_URL (the SNS envelope's Message). */
		List<JsonNode> drainEvents(String queueUrl) throws IOException, InterruptedException {
			List<JsonNode> events = new ArrayList<>();
			while (true) {
				JsonNode received = call("sqs", "AmazonSQS.ReceiveMessage", Map.of("QueueUrl", queueUrl,
						"MaxNumberOfMessages", 10, "WaitTimeSeconds", 2, "VisibilityTimeout", 600));
				if (received.path("Messages").isEmpty()) {
					return events;
				}
				for (JsonNode message : received.path("Messages")) {
					events.add(json.readTree(json.readTree(message.path("Body").asText()).path("Message").asText()));
				}
			}
		}

		/**
		 * Every AWS call the sidecars made, from moto's recording of the requests it got, as IAM authorizes it: a
		 * transaction as its items' actions. STS's GetCallerIdentity, which needs no permission, is left out.
		 */
		List<AwsCall> sidecarCalls() throws IOException, InterruptedException {
			List<AwsCall> calls = new ArrayList<>();
			String recording = send("moto",
					HttpRequest.newBuilder(URI.create(this.endpoint + "/moto-api/recorder/download-recording")));
			for (String line : recording.lines().filter(line -> !line.isBlank()).toList()) {
				JsonNode request = json.readTree(line);
				JsonNode headers = request.path("headers");
				if (!headers.path("User-Agent").asText().contains(SIDECAR_SDK)) {
					continue;
				}
				String body = request.path("body_encoded").asBoolean()
						? new String(Base64.getDecoder().decode(request.path("body").asText()), StandardCharsets.UTF_8)
						: request.path("body").asText();
				String service = find(headers.path("Authorization").asText(), "/([a-z0-9-]+)/aws4_request");
				String operation = headers.path("X-Amz-Target").asText().replaceFirst("^.*\\.", "");
				switch (service) {
					case "sts" -> {
					}
					case "dynamodb" -> {
						JsonNode input = json.readTree(body);
						if (operation.equals("TransactWriteItems")) {
							for (JsonNode item : input.path("TransactItems")) {
								item.properties().forEach(action -> calls.add(new AwsCall("dynamodb:" + action.getKey() + "Item",
										tableArn(action.getValue().path("TableName").asText()))));
							}
						}
						else {
							calls.add(new AwsCall("dynamodb:" + operation, tableArn(input.path("TableName").asText())));
						}
					}
					case "sns" -> {
						Map<String, String> form = form(body);
						calls.add(new AwsCall("sns:" + form.get("Action"), form.get("TopicArn")));
					}
					case "sqs" -> {
						JsonNode input = json.readTree(body);
						String queue = input.has("QueueUrl") ? input.path("QueueUrl").asText().replaceFirst("^.*/", "")
								: input.path("QueueName").asText();
						calls.add(new AwsCall("sqs:" + operation, arn("sqs", queue)));
					}
					case "s3" -> {
						String path = URI.create(request.path("url").asText()).getPath();
						calls.add(new AwsCall(request.path("method").asText().equals("PUT") ? "s3:PutObject"
								: "s3:" + request.path("method").asText(), "arn:aws:s3:::" + path.substring(1)));
					}
					default -> calls.add(new AwsCall(service + ":" + operation, "?"));
				}
			}
			return calls;
		}

		private String tableArn(String table) {
			return "arn:aws:dynamodb:" + REGION + ":" + this.account + ":table/" + table;
		}

		private static Map<String, String> form(String body) {
			Map<String, String> form = new LinkedHashMap<>();
			for (String pair : body.split("&")) {
				String[] nameAndValue = pair.split("=", 2);
				form.put(URLDecoder.decode(nameAndValue[0], StandardCharsets.UTF_8),
						URLDecoder.decode(nameAndValue.length > 1 ? nameAndValue[1] : "", StandardCharsets.UTF_8));
			}
			return form;
		}

		/** The policy scripts/deploy.sh gives a queue: those topics, and nothing else, may send to it. */
		private String queuePolicy(String queue, List<String> topics) {
			return json.writeValueAsString(Map.of("Version", "2012-10-17", "Statement",
					List.of(Map.of("Effect", "Allow", "Principal", Map.of("Service", "sns.amazonaws.com"), "Action",
							"sqs:SendMessage", "Resource", arn("sqs", queue), "Condition", Map.of("ArnEquals",
									Map.of("aws:SourceArn", topics.stream().map(topic -> arn("sns", topic)).toList()))))));
		}

		private String arn(String service, String name) {
			return "arn:aws:" + service + ":" + REGION + ":" + this.account + ":" + name;
		}

		/** A call of an AWS JSON API (DynamoDB's, SQS's). */
		private JsonNode call(String service, String target, Map<String, Object> body)
				throws IOException, InterruptedException {
			return json.readTree(send(service, HttpRequest.newBuilder(URI.create(this.endpoint + "/"))
				.header("X-Amz-Target", target)
				.header("Content-Type", "application/x-amz-json-1.0")
				.POST(BodyPublishers.ofString(json.writeValueAsString(body)))));
		}

		/** A call of an AWS query API (SNS's, STS's); the XML it answers. */
		private String query(String service, String form) throws IOException, InterruptedException {
			return send(service, HttpRequest.newBuilder(URI.create(this.endpoint + "/"))
				.header("Content-Type", "application/x-www-form-urlencoded")
				.POST(BodyPublishers.ofString(form)));
		}

		/**
		 * moto picks the service by the credential scope of the request's Authorization header; it checks no
		 * signature, so the request carries none.
		 */
		private String send(String service, HttpRequest.Builder request) throws IOException, InterruptedException {
			HttpResponse<String> response = http.send(request
				.header("Authorization", "AWS4-HMAC-SHA256 Credential=test/20260101/" + REGION + "/" + service
						+ "/aws4_request, SignedHeaders=host, Signature=0")
				.timeout(Duration.ofSeconds(30))
				.build(), BodyHandlers.ofString());
			if (response.statusCode() / 100 != 2) {
				throw new IllegalStateException(service + " answered " + response.statusCode() + ": " + response.body());
			}
			return response.body();
		}

		private static String encode(String value) {
			return URLEncoder.encode(value, StandardCharsets.UTF_8);
		}

		private static String find(String text, String regex) {
			Matcher matcher = Pattern.compile(regex).matcher(text);
			if (!matcher.find()) {
				throw new IllegalStateException("no " + regex + " in " + text);
			}
			return matcher.group(1);
		}

		/** NAME=value, a line of scripts/lib.sh. */
		private static String shellValue(String script, String name) {
			return find(script, "(?m)^\\s*" + name + "=(\\S+)$");
		}

		/** NAME=(word "two words" ...), a line of scripts/lib.sh: its words, quoted ones whole. */
		private static List<String> shellArray(String script, String name) {
			Matcher words = Pattern.compile("\"([^\"]*)\"|(\\S+)")
				.matcher(find(script, "(?m)^\\s*" + name + "=\\((.*)\\)$"));
			return words.results()
				.map(word -> word.group(1) != null ? word.group(1) : word.group(2))
				.collect(Collectors.toList());
		}

	}

}
