"""What the gateway and the App know of each service before its module is imported.

A service's module (its engine, its store, the botocore model behind its codecs) is imported on the
service's first request, not at start: together they weigh tens of megabytes and a few hundred
milliseconds that a server which is never asked for EC2 should not pay. Routing needs only what is here:
the SigV4 signing names, the `X-Amz-Target` prefix, and a cheap hint of which requests its data plane
(invoke URLs, load balancer listeners, edges) may claim. tests/test_lazy_services.py checks every entry
against the service's class and botocore's model.
"""

from __future__ import annotations

from conveyor.services.base import PlaneHint, ServiceEntry

# Where each data plane's requests come in: its host names (`{id}.lambda-url.{region}.localhost`) or paths.
_FUNCTION_URL = PlaneHint(hosts=(".lambda-url.",))
_EXECUTE_API = PlaneHint(hosts=(".execute-api.",), paths=("/_aws/execute-api/",))
_LOAD_BALANCER = PlaneHint(hosts=(".elb.localhost",), paths=("/_aws/elb/",))
_INSTANCE_METADATA = PlaneHint(paths=("/_aws/ec2-metadata/",))
_EDGE = PlaneHint(hosts=(".cloudfront.localhost",), paths=("/_aws/cloudfront/",))


# In start-up order: services others deliver into come first.
CATALOG: tuple[ServiceEntry, ...] = (
    ServiceEntry("sts", "conveyor.services.sts.api:StsService", needs=("iam",), provides=("role_sessions",)),
    ServiceEntry("iam", "conveyor.services.iam.api:IamService", brings=("sts",), provides=("roles", "permissions")),
    ServiceEntry("logs", "conveyor.services.logs.api:LogsService", target_prefix="Logs_20140328",
                 provides=("logs", "log_groups"), internal_prefix="logs"),
    ServiceEntry("cloudwatch", "conveyor.services.cloudwatch.api:CloudWatchService", signing_names=("monitoring",),
                 target_prefix="GraniteServiceVersion20100801", provides=("metrics", "alarms", "alarm_states")),
    ServiceEntry("kinesis", "conveyor.services.kinesis.api:KinesisService", target_prefix="Kinesis_20131202",
                 provides=("streams",)),
    ServiceEntry("dynamodb", "conveyor.services.dynamodb.api:DynamoDBService", target_prefix="DynamoDB_20120810",
                 provides=("table_streams",)),
    ServiceEntry("sqs", "conveyor.services.sqs.api:SqsService", target_prefix="AmazonSQS", provides=("queues",)),
    ServiceEntry("sns", "conveyor.services.sns.api:SnsService", provides=("topics",), internal_prefix="sns"),
    ServiceEntry("lambda", "conveyor.services.lambda_.api:LambdaService", signing_names=("lambda", "execute-api"),
                 may_claim=_FUNCTION_URL, provides=("functions",), internal_prefix="functions"),
    ServiceEntry("events", "conveyor.services.events.api:EventsService", target_prefix="AWSEvents",
                 provides=("events",)),
    ServiceEntry("scheduler", "conveyor.services.scheduler.api:SchedulerService"),
    ServiceEntry("s3", "conveyor.services.s3.api:S3Service", takes_unsigned=True, provides=("objects",)),
    ServiceEntry("apigatewayv2", "conveyor.services.apigatewayv2.api:ApiGatewayService",
                 signing_names=("apigateway",), may_claim=_EXECUTE_API, state_dir="apigateway"),
    # Elastic Load Balancing before Auto Scaling, which registers its instances in target groups.
    ServiceEntry("elbv2", "conveyor.services.elbv2.api:ElbService", signing_names=("elasticloadbalancing",),
                 may_claim=_LOAD_BALANCER, provides=("load_balancers", "target_groups")),
    # EC2 before Auto Scaling, which launches its instances (and stops first, so that no instance it
    # watches going down is replaced during a shutdown).
    ServiceEntry("ec2", "conveyor.services.ec2.api:Ec2Service", may_claim=_INSTANCE_METADATA,
                 provides=("instances", "vpcs")),
    ServiceEntry("autoscaling", "conveyor.services.autoscaling.api:AutoScalingService", needs=("ec2", "elbv2"),
                 provides=("scaling",)),
    ServiceEntry("cloudfront", "conveyor.services.cloudfront.api:CloudFrontService", may_claim=_EDGE,
                 needs=("s3",)),
    # After the services whose names its aliases point at (distributions, load balancers, websites).
    # It checks a private zone's VPC with EC2 (every account has default VPCs: no empty answer), and asks
    # CloudWatch Logs' resource policies whether it may write query logs (on every logged query: started first).
    ServiceEntry("route53", "conveyor.services.route53.api:Route53Service", internal_prefix="route53",
                 door="conveyor.services.route53.dns_door:open_door", needs=("ec2", "logs")),
    # Last: it makes the other services' resources through their APIs.
    ServiceEntry("cloudformation", "conveyor.services.cloudformation.api:CloudFormationService", needs=("ec2",)),
)
