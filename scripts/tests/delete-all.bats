#!/usr/bin/env bats
# scripts/delete-all.sh against the stand-ins: it removes all scripts/deploy.sh made, in the safe order
# (scripts/install.sh --uninstall, then Datadog, the StorageClass, the cluster, the AWS resources of the
# greetings' events, the log group), skipping what is gone, so that a re-run finishes an interrupted teardown.
# shellcheck source=stand-ins.bash
source "$BATS_TEST_DIRNAME/stand-ins.bash"

BUCKET=dapr-demo-receipts-$ACCOUNT-us-west-2
# deployed : all deploy.sh makes, and a receipt comms wrote in the bucket.
deployed() {
  script DATADOG_API_KEY=0123456789abcdef0123456789abcdef IMAGE_REGISTRY=r.example.com/t IMAGE_TAG=1 deploy.sh && [[ $status == 0 ]]
  mkdir -p "$W/aws/s3/$BUCKET/objects" && echo '{"id":"1"}' >"$W/aws/s3/$BUCKET/objects/1.json"
}

@test "the dry run, with or without --yes, plans the whole teardown calling nothing; a real run needs --yes" {
  script delete-all.sh
  [[ $status != 0 && $stderr == *"re-run with --yes"* && ! -s $CALLS ]]
  script delete-all.sh --dry-run
  [[ $status == 0 && ! -s $CALLS ]]
  script delete-all.sh --dry-run --yes
  [[ $status == 0 && ! -s $CALLS ]]
  planned "aws eks update-kubeconfig" "kubectl delete -k" "helm uninstall dapr" "kubectl delete pvc --all --namespace dapr-system" \
    "kubectl delete -f datadog/datadog-agent.yaml" "kubectl delete -f kubernetes/storage/gp3-storageclass.yaml" \
    "eksctl delete cluster -f eksctl/cluster.yaml" "aws s3 rm s3://dapr-demo-receipts-<account>-us-west-2 --recursive" \
    "aws s3api delete-bucket --bucket dapr-demo-receipts-<account>-us-west-2" "aws sqs delete-queue" \
    "aws sns delete-topic --topic-arn arn:aws:sns:us-west-2:<account>:greetingrequested" \
    "aws dynamodb delete-table --table-name dapr-demo-greetings" "aws logs delete-log-group --log-group-name /aws/eks/dapr-demo/cluster"
}

@test "removes all deploy.sh made, in the safe order, leaving nothing that bills; a second run finds nothing to do" {
  deployed
  script delete-all.sh --yes
  [[ $status == 0 && -z $(find "$W" -type f) ]]
  called "kubectl delete -k" "helm uninstall dapr-dashboard --namespace dapr-system" "helm uninstall dapr --namespace dapr-system" \
    "kubectl delete pvc --all --namespace dapr-system" "kubectl wait pv/pv-0 --for delete" "kubectl delete namespace dapr-system" \
    "kubectl delete crd --selector app.kubernetes.io/part-of=dapr" "kubectl delete -f datadog/datadog-agent.yaml" \
    "helm uninstall datadog-operator --namespace datadog-operator" "kubectl delete secret datadog-secret --namespace datadog-operator" \
    "kubectl delete namespace datadog-operator" "kubectl delete -f kubernetes/storage/gp3-storageclass.yaml" \
    "eksctl delete cluster -f eksctl/cluster.yaml" "aws s3 rm s3://$BUCKET --recursive" \
    "aws s3api delete-bucket --bucket $BUCKET --expected-bucket-owner $ACCOUNT" \
    "aws sqs delete-queue --queue-url https://sqs.us-west-2.amazonaws.com/$ACCOUNT/greeter" \
    "aws sqs delete-queue --queue-url https://sqs.us-west-2.amazonaws.com/$ACCOUNT/comms" \
    "aws sns delete-topic --topic-arn arn:aws:sns:us-west-2:$ACCOUNT:dapr-servicescommsgreetingrequestedoutbox" \
    "aws dynamodb delete-table --table-name dapr-demo-greetings" "aws dynamodb wait table-not-exists" \
    "aws logs delete-log-group --log-group-name /aws/eks/dapr-demo/cluster --region us-west-2"
  script delete-all.sh --yes
  [[ $status == 0 ]]
}

@test "a teardown that fails in the cluster stops before it, saying it may still cost money; one interrupted at it is finished by running it again" {
  deployed
  echo "helm uninstall dapr" >"$W/fail-once"
  script delete-all.sh --yes
  [[ $status != 0 && $stderr == *"The cluster may still exist and cost money"* ]]
  not_called "eksctl delete cluster"
  echo "eksctl delete cluster" >"$W/fail-once"
  script delete-all.sh --yes
  [[ $status != 0 ]]
  script delete-all.sh --yes
  [[ $status == 0 && -z $(find "$W" -type f) ]]
}

@test "a teardown interrupted after the cluster deletes the events' AWS resources and the log group on the next run; never another account's bucket" {
  deployed
  echo "aws s3 rm" >"$W/fail-once"
  script delete-all.sh --yes
  [[ $status != 0 && ! -e $W/cluster && -f $W/aws/dynamodb/dapr-demo-greetings && -f $W/log-group ]]
  script delete-all.sh --yes
  [[ $status == 0 && -z $(find "$W" -type f) ]]
  deployed
  echo 444455556666 >"$W/aws/s3/$BUCKET/owner"
  script delete-all.sh --yes
  [[ $status == 0 && -z $(find "$W" -type f ! -path "$W/aws/s3/$BUCKET/*") && -f $W/aws/s3/$BUCKET/objects/1.json ]]
  not_called "aws s3 rm" "aws s3api delete-bucket"
}

@test "deletes a cluster still being created, without the in-cluster steps" {
  mkdir -p "$W/cluster" && echo CREATING >"$W/cluster/status"
  script delete-all.sh --yes
  [[ $status == 0 && ! -e $W/cluster ]]
}
