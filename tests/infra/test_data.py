"""The table and the cache as synthesised: the table is the one definition of
`service/store/schema.py`, Redis is what HUSTLEHUB_REDIS_CLUSTER=true runs on."""

from __future__ import annotations

from service.aws.infra.stage import Stage
from service.store.keys import TTL_ATTRIBUTE
from service.store.schema import STREAM_VIEW, table_definition
from tests.infra.synth import STAGES, Synthesised, one, props


@STAGES
def test_the_table_is_the_one_definition(synthesised: Synthesised, stage: Stage) -> None:
    table = props(synthesised.of(stage), "AWS::DynamoDB::Table")
    definition = table_definition(stage.table_name, deletion_protection=stage.production)
    for key in ("TableName", "KeySchema", "AttributeDefinitions", "GlobalSecondaryIndexes"):
        assert table[key] == definition[key]
    assert table["BillingMode"] == "PAY_PER_REQUEST"
    assert table["SSESpecification"] == {"SSEEnabled": True}
    assert table["StreamSpecification"] == {"StreamViewType": STREAM_VIEW}
    assert STREAM_VIEW == "NEW_AND_OLD_IMAGES"
    assert table["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert table["TimeToLiveSpecification"] == {"AttributeName": TTL_ATTRIBUTE, "Enabled": True}


@STAGES
def test_production_keeps_its_table_and_dev_does_not(
    synthesised: Synthesised, stage: Stage
) -> None:
    _, table = one(synthesised.of(stage), "AWS::DynamoDB::Table")
    assert table["Properties"]["DeletionProtectionEnabled"] is stage.production
    kept = "Retain" if stage.production else "Delete"
    assert (table["DeletionPolicy"], table["UpdateReplacePolicy"]) == (kept, kept)


@STAGES
def test_redis_runs_in_cluster_mode_encrypted_with_an_auth_token(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    redis = props(template, "AWS::ElastiCache::ReplicationGroup")
    assert redis["Engine"] == "redis"
    assert redis["ClusterMode"] == "enabled"
    assert redis["CacheParameterGroupName"].endswith(".cluster.on")
    assert (redis["NumNodeGroups"], redis["ReplicasPerNodeGroup"]) == (
        stage.redis_shards,
        stage.redis_replicas,
    )
    assert redis["MultiAZEnabled"] is stage.production
    assert redis["AtRestEncryptionEnabled"] is True
    assert (redis["TransitEncryptionEnabled"], redis["TransitEncryptionMode"]) == (True, "required")
    token, _ = one(template, "AWS::SecretsManager::Secret", "RedisAuthToken")
    assert redis["AuthToken"] == {
        "Fn::Join": ["", ["{{resolve:secretsmanager:", {"Ref": token}, ":SecretString:::}}"]]
    }


@STAGES
def test_the_redis_url_is_a_tls_url_to_the_configuration_endpoint_with_the_token(
    synthesised: Synthesised, stage: Stage
) -> None:
    template = synthesised.of(stage)
    group, _ = one(template, "AWS::ElastiCache::ReplicationGroup")
    token, _ = one(template, "AWS::SecretsManager::Secret", "RedisAuthToken")
    url = props(template, "AWS::SecretsManager::Secret", "RedisUrl")["SecretString"]
    assert url == {
        "Fn::Join": [
            "",
            [
                "rediss://:{{resolve:secretsmanager:",
                {"Ref": token},
                ":SecretString:::}}@",
                {"Fn::GetAtt": [group, "ConfigurationEndPoint.Address"]},
                ":",
                {"Fn::GetAtt": [group, "ConfigurationEndPoint.Port"]},
            ],
        ]
    }
